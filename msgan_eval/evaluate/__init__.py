"""From inputs to a metric result: one module per metric family, and the one input road.

``fid`` (FID and statistics), ``lpips`` (LPIPS diversity), ``ndb`` (NDB/JSD and bins files),
``compare`` (baseline vs candidate with intervals); ``inputs`` turns paths, arrays, tensors and
mappings into image sets. The command line and ``msgan_eval.<function>`` call only these.
"""
