"""Development-only tooling: the local infrastructure, the development signing key and the
`koshiqon` command. Installed with the workspace's dev group, never into a service image."""
