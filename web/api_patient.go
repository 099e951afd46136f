package web

func (s *Server) patientRoutes() {}
