"""Run folders: creating, writing, reading and listing them."""
