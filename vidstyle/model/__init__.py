"""Networks the project trains itself: feed-forward transfer networks (``vidstyle train``, issue 16)
and the arbitrary-style decoders (``vidstyle train --decoder``, issue 17). One module each: the
network, its file, its training data, its training loop, it as an engine, its export."""
