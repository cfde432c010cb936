"""How a backbone becomes a trainable model: freezing, heads, regularisers."""
