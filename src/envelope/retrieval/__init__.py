"""Knowledge bases: chunk vectors, their indexes and the search over them."""
