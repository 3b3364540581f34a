"""Outbound webhook endpoints, deliveries and attempts; raw inbound deliveries."""
