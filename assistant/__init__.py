"""assistant: turn conversation logs, FAQs and a brand voice into a LoRA-tuned chat assistant."""

__version__ = "0.1.0"
