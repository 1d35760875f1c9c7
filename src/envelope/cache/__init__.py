"""The answer cache: stores (memory, Redis) and the replay of a cached answer as a stream."""
