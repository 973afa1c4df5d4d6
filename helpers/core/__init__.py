"""What every lesson stands on: profiles, paths, seeding, data, models, generation, log-probabilities, TRL configs, checkpoints."""
