"""Clients for the outside services Sender delivers through. Only these modules talk to the network."""
