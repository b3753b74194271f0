"""What produces facegate's shipped artefacts from data: the synthetic attack renderer
(``tools.synth``), the liveness fit, the occlusion trainer and the calibration fit.

``benchmarks/`` only measures; whatever here writes a file under ``src/`` records the commit,
the data and the seed that produced it (``tools.provenance``).
"""
