"""rocketnet: the RocketOS network stack, rebuilt in Python (sans-I/O)."""
