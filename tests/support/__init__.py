"""Test support: throwaway schemas, unique event contracts and topics, topic readers."""
