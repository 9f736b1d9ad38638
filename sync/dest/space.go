package dest

// FreeSpace is how many bytes of the disk holding path this user may
// still write: what the engine compares with its free-space threshold
// before a pass, for the documents folder and the data folder (the
// engine takes it as a function, so that tests inject a reading). Where
// the OS gives no answer it returns an error, and nothing is checked.
func FreeSpace(path string) (uint64, error) { return freeSpace(path) }
