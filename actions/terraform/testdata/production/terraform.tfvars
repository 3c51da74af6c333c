# The first commit's values; the tests commit a second version over them.
shadow_self_min_instances = 5
cache_node_type           = "cache.r7g.xlarge"
