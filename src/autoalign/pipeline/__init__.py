"""Operations several protocols share (train a generator, sample and check), as keyed stages.

Protocols never import each other; when two need the same thing they call it here, and because
stages are keyed by their inputs, two protocols asking for the same generator share one.
"""
