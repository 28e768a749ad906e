"""Everything that speaks Stripe: `client` (the only module importing `stripe`) and `normalize` (pure)."""
