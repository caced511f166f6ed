"""Scale-out: render the shots of a clip in parallel, on a Ray cluster or on several local devices.

Temporal coherence ties the frames of a shot together, but a scene cut already restarts the
optimisation (``VideoStylizer``), so shots are independent units of work:

- :mod:`.plan` finds the cuts (the same reliability test the temporal loop uses) and splits the clip
  into chunks: one per shot, long shots cut into overlapping chunks whose overlap is cross-faded;
- :mod:`.worker` renders one chunk from the shared input (the same ``VideoStylizer`` as a local run);
- :mod:`.backends` runs workers: Ray tasks (``--backend ray``) or local processes (``--devices``);
- :mod:`.driver` submits chunks, aggregates progress, blends overlaps and writes results in order.
"""
