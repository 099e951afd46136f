package web

func (s *Server) treatmentRoutes() {}
