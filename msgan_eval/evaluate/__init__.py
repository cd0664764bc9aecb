"""From inputs to a metric result: one module per metric family, and the one input road.

``fid`` (FID and statistics), ``lpips`` (LPIPS diversity), ``ndb`` (NDB/JSD and bins files),
``compare`` (baseline vs candidate with intervals), ``per_class`` (per-class FID), ``vendi``
(Vendi score and duplicates), ``protocol`` (named protocols); ``inputs`` turns paths, arrays, tensors and
mappings into image sets. The command line and ``msgan_eval.<function>`` call only these.
"""
