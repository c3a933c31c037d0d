"""Koshi-qon proposals service: akimats' proposals to the authorized migration body (§6),
the regional rules approved by the maslikhat (§2), the measures of §8."""

__version__ = "0.1.0"
