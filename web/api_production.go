package web

func (s *Server) productionRoutes() {}
