"""Where scripts come from: embedded providers and the external scripts tree."""
