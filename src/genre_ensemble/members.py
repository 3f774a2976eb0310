"""The names of the ensemble's members: one CNN per image representation, the feature-based
member and the pretrained-musicnn member (opt-in), plus the musicnn checkpoints and layers that
member can use. The one place to add a member's name; imports nothing."""

REPRESENTATIONS: tuple[str, ...] = ("stft", "cqt", "chroma")
FEATURE_MEMBER = "features"
MUSICNN_MEMBER = "musicnn"
MEMBERS: tuple[str, ...] = (*REPRESENTATIONS, FEATURE_MEMBER, MUSICNN_MEMBER)
# members whose model is a scikit-learn pipeline (models/<member>.joblib), not a Keras network
CLASSIFIER_MEMBERS: tuple[str, ...] = (FEATURE_MEMBER, MUSICNN_MEMBER)

# The musicnn wheel's checkpoints with the musicnn architecture (the vgg ones are not ported)
# and the network's per-patch outputs (params musicnn.model and musicnn.layers choose).
MUSICNN_MODELS: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn")
MUSICNN_LAYERS: tuple[str, ...] = ("mean_pool", "max_pool", "penultimate", "taggram")
