// Package deploy holds no code: it is the directory of the files that run
// pushwire as a service (pushwire.service, sysctl.d/90-pushwire.conf,
// Containerfile), and its tests check that they parse and say what the
// README promises.
package deploy
