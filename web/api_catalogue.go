package web

func (s *Server) catalogueRoutes() {}
