"""Downloads of everything: a person's own data and, for central persons, the circle."""
