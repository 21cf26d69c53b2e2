"""Constructs of the serving stack: network, HTTPS front door, gateway task definition."""
