"""Serving the style adapters of lesson 6: the router, its HTTP/OpenAI-compatible service, mixed-adapter LoRA batches."""
