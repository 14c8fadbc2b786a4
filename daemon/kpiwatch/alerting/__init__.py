"""Alert rules, their state, and the notifications they send through a durable outbox."""
