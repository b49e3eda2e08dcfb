"""The built-in experiments, one module each, registered with the pipeline (bench.pipeline) when
`bench.experiments.builtin` is imported: the registry does so on first use. Importing this
package alone imports nothing, so the light settings module (bench.experiments.lwgan_settings) costs
no torch."""
