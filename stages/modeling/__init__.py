"""The language models: the base model and its tokenizer, the prompt + story text
format, LM loss and perplexity, sampling, the shared training loop, and the reward
model with its losses and batches."""
