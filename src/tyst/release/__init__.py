"""The release stage: what every party applies to a query's result before it is sealed for the
recipient, derived from the signed plan alone (:mod:`tyst.release.mechanisms`, applied over
shares by :mod:`tyst.release.stage`)."""
