"""Pipeline ``simulate``: phantom acquisitions with ground truth, published to the store."""

from kfp import dsl

from stainworth.components.simulate import simulate as simulate_component
from stainworth.contracts.profile import Profile
from stainworth.pipelines.parameters import profile_pipeline
from stainworth.runner.platform import configure_task


def build(profile: Profile):
    """The ``simulate`` pipeline with the profile's values as parameter defaults."""

    @profile_pipeline(profile, name="stainworth-simulate",
                      description="Render phantom QPI + fluorescence acquisitions and publish them to the store.")
    def simulate(simulate_config: dict, store_uri: str) -> dsl.Dataset:
        task = simulate_component(config=simulate_config, store_uri=store_uri)
        task.set_display_name("simulate")
        configure_task(task, profile.cluster, gpu=False)
        return task.outputs["acquisitions"]

    return simulate
