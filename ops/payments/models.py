"""Payments taken through the payment provider (PaymentIntents, refunds) and their provider events."""
