"""The ten GTZAN genre labels, in the fixed order used for every class index."""

GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

GENRE_INDEX: dict[str, int] = {genre: index for index, genre in enumerate(GENRES)}

N_CLASSES: int = len(GENRES)
