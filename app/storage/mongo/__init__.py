"""MongoDB in Parse Server's MongoDB format: the storage port's MongoDB engine (`engine.MongoStorage`) and its parts."""
