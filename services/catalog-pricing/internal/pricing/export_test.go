package pricing

// Computed returns how many quotes s computed (missed its caches).
func Computed(s *Service) int64 { return s.computed.Load() }
