"""Learning deep parsimonious representations (paper 004): the clustering regulariser and §4.2."""
