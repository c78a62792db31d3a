"""One stage per module. Each holds its loaded models and turns a batch of calls into a
batch of enriched calls; none of them touches the store."""
