"""Money: tariffs, exact splits, claims. Integer pence throughout."""
