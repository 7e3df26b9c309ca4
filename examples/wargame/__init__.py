"""The wargame module: combat rules as embedded scripts."""
