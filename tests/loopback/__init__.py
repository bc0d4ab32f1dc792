"""Loopback servers that speak each platform's real wire protocol on 127.0.0.1, for tests and the bench."""
