"""Staff tools beyond the build: reminders and their mail, payout reconciliation."""
