"""Input validation and small helpers shared by estimators."""
