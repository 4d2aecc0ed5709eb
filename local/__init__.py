"""The local stack: an embedded AWS backend (moto's server), the template's resources created on it, and the
template's routes and event sources served without Docker."""
