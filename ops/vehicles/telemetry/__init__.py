"""Telemetry in: devices and partners push readings; rules turn them into odometer, alerts and health."""
