"""The trust shell: who runs the exchange (business profile) and the consents sellers give."""
