"""Roll-ups over the store: customers, insights, outcomes, calibration, reports."""
