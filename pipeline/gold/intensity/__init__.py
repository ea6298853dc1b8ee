"""The risk model: intensities lambda(road point, hour) fitted on the point x hour grid with a Poisson
likelihood (cells, terms, poisson, glm), the candidates that compete for the champion's place (the
hotspot map, the GLM, boosted trees on the GLM, a blend: competition), how a model is stored (bundle),
and what a published total carries (uncertainty, reasons). Every candidate scores a ScoringGrid (grid)."""
