"""Blue-green deploys of the gateway: releases, slots, switch, rollback, history, DORA."""
