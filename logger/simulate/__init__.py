"""A software Wi-SUN dongle with a smart meter behind it (sans-I/O core, pty/TCP servers)."""
