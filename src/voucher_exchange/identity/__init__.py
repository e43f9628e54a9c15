"""Identity: KYC tiers, legal names, payout destinations in the seller's own name."""
